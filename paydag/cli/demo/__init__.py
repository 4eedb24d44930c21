"""`paydag demo` and `paydag sandbox`: a small installation on this machine (stack), the day's sample
data (day), the day's flow runs (cycle) and what they did (summary). Needs the repository."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Annotated, Any

import typer

from paydag.cli.output import Exit, JsonOption, emit, failures, show


def demo(
    keep_running: Annotated[
        bool, typer.Option("--keep-running", help="Leave the server, sandbox and worker running afterwards.")
    ] = False,
    prefect_port: Annotated[
        int, typer.Option("--prefect-port", help="Port of the Prefect server and UI.")
    ] = 4200,
    sandbox_port: Annotated[int, typer.Option("--sandbox-port", help="Port of the provider sandbox.")] = 8900,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds any one step may take.")] = 300,
    as_json: JsonOption = False,
) -> None:
    """Run the daily cycle the way production does, on the embedded defaults: a Prefect server, the
    provider sandbox and a worker; the deployments; send (the bank refuses one payment), the bank's
    day, poll, incoming payments routed, the settlement report ingested and validated (started by the
    poll's event), reconciled (started by the ingest's event); a summary and the UI address."""
    doc: dict[str, Any] = {"command": "demo"}
    with failures(doc, as_json):
        from paydag.cli.demo import stack as s

    # Ctrl-C, and a `kill` too, stop what the demo started (a shell's background job ignores SIGINT).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    stack = s.Stack(_demo_home())
    try:
        doc |= _run(stack, prefect_port, sandbox_port, timeout)
    except s.PortTaken as exc:
        stack.stop()
        emit(as_json, {**doc, "status": "failed", "error": str(exc)}, [f"error: {exc}"], Exit.UNREADABLE)
    except (s.DemoError, s.httpx.HTTPError, s.subprocess.SubprocessError, OSError) as exc:
        stack.stop()
        message = str(exc) if isinstance(exc, s.DemoError) else f"{type(exc).__name__}: {exc}"
        emit(as_json, {**doc, "status": "failed", "error": message},
             [f"error: {message}", f"logs: {stack.logs}"], Exit.FAILED)  # fmt: skip
    except BaseException:
        stack.stop()
        raise
    _finish(stack, doc, keep_running, as_json)


def _demo_home() -> Path:
    from paydag.settings import load_settings

    home = load_settings().home.resolve()  # absolute: the worker's flow runs start elsewhere
    home.mkdir(parents=True, exist_ok=True)
    return home


def _run(stack: Any, prefect_port: int, sandbox_port: int, timeout: float) -> dict[str, Any]:
    """Start the installation, deploy, run the day; the summary document."""
    from paydag.cli.demo import stack as s
    from paydag.cli.demo.cycle import progress, run_cycle
    from paydag.cli.demo.day import DemoDay, prepare_sandbox
    from paydag.cli.demo.summary import report_path, summary
    from paydag.settings import load_settings

    settings = load_settings(home=stack.home)
    day = DemoDay(settings.today(), settings.company("demo").provider_company_id)
    progress("starting the provider sandbox, a Prefect server and a worker ...")
    sandbox_url = stack.sandbox(sandbox_port)
    ui = stack.prefect_server(prefect_port, s.prefect_env(settings))
    env = s.prefect_env(settings, ui)
    s.prefect_cli(
        env,
        "work-pool",
        "create",
        "paydag",
        "--type",
        "process",
        "--overwrite",
        step="creating the work pool",
    )
    s.prefect_cli(env | {"PAYDAG_CHECKOUT": str(s.REPO)}, "--no-prompt", "deploy", "--all",
                  "--prefect-file", "deployments/prefect.yaml", step="deploying")  # fmt: skip
    captures = day.captures_export(settings.home / "demo" / f"captures-{day.today}.csv")
    stack.worker(s.worker_env(settings, ui, sandbox_url, captures))
    prepare_sandbox(sandbox_url, day)
    runs = run_cycle(ui, sandbox_url, day, day.payables(settings.home / "demo"), timeout)
    return {"status": "done", "ui": ui, "sandbox": sandbox_url, "runs": runs,
            **summary(settings, day, report_path(settings))}  # fmt: skip


def _finish(stack: Any, doc: dict[str, Any], keep_running: bool, as_json: bool) -> None:
    """Print the summary; stop the installation, or keep it running until Ctrl-C or kill."""
    from paydag.cli.demo.summary import iter_lines

    lines = [*iter_lines(doc), *(f"flow run {r['name']}: {r['state']}  {r['url']}" for r in doc["runs"]["all"]),
             f"Prefect UI: {doc['ui']}"]  # fmt: skip
    if not keep_running:
        stack.stop()
        emit(
            as_json,
            doc,
            [*lines, "stopped the server, the sandbox and the worker (--keep-running keeps them)"],
        )
    show(as_json, doc, [*lines, f"the server, the sandbox ({doc['sandbox']}) and the worker keep running; "
                              "Ctrl-C or kill stops them"])  # fmt: skip
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()
    raise typer.Exit(int(Exit.OK))


def sandbox(
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8900,
    state_dir: Annotated[
        Path | None, typer.Option("--state-dir", help="Default: PAYDAG_HOME/sandbox")
    ] = None,
) -> None:
    """Run the provider sandbox (Pagero's API contract, with fault injection) in the foreground."""
    import sys

    from paydag.cli.runtime import prefect_project
    from paydag.settings import load_settings

    with failures({"command": "sandbox"}, False):
        prefect_project()
        from sandbox.server import PortInUse, serve

    directory = state_dir or load_settings().home / "sandbox"
    print(f"paydag sandbox on http://{host}:{port} (state in {directory}); Ctrl-C stops it", file=sys.stderr)
    try:
        serve(directory, host=host, port=port)
    except PortInUse as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(int(Exit.UNREADABLE)) from None

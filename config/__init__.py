"""The example configuration (company `demo`): what a fresh clone and an installed wheel run on when
no paydag.toml is given; installed as the package data `paydag.config` (pyproject maps this folder)."""

"""The Great Expectations suites, one JSON file per report type; installed as the package data
`paydag.expectations` (pyproject maps this folder there) and read with importlib.resources."""

"""Pure builders and parsers of the files paydag sends and receives, with their bundled XSDs."""

"""What every layer uses: errors (`GmiaError`), the options' choices, atomic file writes,
number formatting and optional packages. Imports nothing else of gmia."""

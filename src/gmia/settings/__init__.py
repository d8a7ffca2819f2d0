"""Every default and check of an option: the paper's numbers, the presets per data set and
command, and the frozen, validated configurations built from them."""

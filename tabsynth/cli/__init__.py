"""The tabsynth command line (see ``tabsynth --help``)."""

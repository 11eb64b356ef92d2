"""Stand-in for Google Colab's runtime package (see tests/colab_standin/README.md)."""

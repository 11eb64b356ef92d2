"""Stand-in for google.colab.files: a download is recorded instead of reaching a browser."""

import os


def download(filename):
    if not os.path.exists(filename):
        raise FileNotFoundError(f"Cannot find file: {filename}")
    with open(os.environ["COLAB_STANDIN_DOWNLOADS"], "a", encoding="utf-8") as log:
        log.write(os.path.abspath(filename) + "\n")

#!/usr/bin/python3
"""Decodes an image with Pillow (a decoder nobody here wrote) and prints "FORMAT WIDTH HEIGHT"
("JPEG 128 32"); exits 1 when it does not decode.

    /usr/bin/python3 image_size.py FILE
"""
import sys

from PIL import Image


def main():
    with Image.open(sys.argv[1]) as image:
        image.load()
        print(image.format, image.size[0], image.size[1])


if __name__ == "__main__":
    main()

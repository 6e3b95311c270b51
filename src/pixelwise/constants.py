"""Constants shared by every part of pixelwise."""

IGNORE_INDEX = 255
"""The truth label that is not scored and adds nothing to a loss (void, borders, padding).

Pixels whose truth equals it are left out of every confusion matrix and every loss (they get no
gradient), drawn in a neutral colour in pictures, and used to pad masks. 255 is what PASCAL VOC,
Cityscapes' train ids and most segmentation code use, and it fits an 8-bit mask PNG.

Every function and class that takes ``ignore_index`` defaults to this value; pass
``ignore_index=None`` to count every pixel (no label is ignored).
"""

"""Pictures people look at: colour masks, overlays, prediction panels, curves and charts.

Everything draws with matplotlib's Agg backend on private ``Figure`` objects (never pyplot's
global state), takes plain tensors or arrays (never models), and writes files atomically.
"""

from pixelwise.visual.charts import bar_chart, normalize_confusion, plot_confusion_heatmap, plot_per_class_iou
from pixelwise.visual.curves import plot_training_curves
from pixelwise.visual.overlay import overlay, save_label_png, save_png
from pixelwise.visual.palette import colorize, default_palette, denormalize, to_rgb_uint8
from pixelwise.visual.panels import error_image, save_panels

__all__ = [
    "bar_chart",
    "colorize",
    "default_palette",
    "denormalize",
    "error_image",
    "normalize_confusion",
    "overlay",
    "plot_confusion_heatmap",
    "plot_per_class_iou",
    "plot_training_curves",
    "save_label_png",
    "save_panels",
    "save_png",
    "to_rgb_uint8",
]

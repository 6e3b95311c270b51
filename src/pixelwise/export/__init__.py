"""Export trained models for deployment (ONNX)."""

from pixelwise.export.model_file import ExportReport, export_model
from pixelwise.export.onnx import export_onnx, verify_onnx

__all__ = ["ExportReport", "export_model", "export_onnx", "verify_onnx"]

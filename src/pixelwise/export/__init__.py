"""Export trained models for deployment (ONNX)."""

from pixelwise.export.onnx import export_onnx, verify_onnx

__all__ = ["export_onnx", "verify_onnx"]

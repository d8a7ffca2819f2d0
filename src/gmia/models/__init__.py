"""Trained models as files and foreign estimators: gmia's own model format (safetensors,
docs/model-format.md), ONNX files, scikit-learn-style estimators described as JSON, and how a
model that is not gmia's reads gmia's encoded records."""

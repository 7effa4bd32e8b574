"""The REST edge: one blueprint per resource, the error handler, the worker's predictor."""

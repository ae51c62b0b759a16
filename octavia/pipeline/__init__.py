"""The pipeline core: media I/O, engines and the stages that chain them. Knows nothing of CLI or HTTP."""

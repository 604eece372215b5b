"""Export a run slice in another format: the pipeline's fixture or JSON lines."""

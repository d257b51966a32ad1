"""Training code (torch). Never imported on the inference path; not shipped in the Blender extension."""

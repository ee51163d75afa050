"""fer_lab: facial emotion recognition experiments."""

"""`python -m fer_lab.app`: live facial-emotion recognition in the browser (webcam, image and video uploads)."""

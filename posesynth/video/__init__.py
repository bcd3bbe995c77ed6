"""Video: find and probe videos, read and write frames, static backgrounds, boxes. No pose knowledge."""

"""Edit plan → conditioning, rendering, compositing, instant operations."""

"""The human oracle's review queue, its gRPC ReviewService and the reviewer web page."""

"""Local stand-ins for cloud services, started by the test fixtures."""

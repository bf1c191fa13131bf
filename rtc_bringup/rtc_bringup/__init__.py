"""Launch files, configuration, runner and system tests for Real-Time Chunking on the SO-100 arm."""

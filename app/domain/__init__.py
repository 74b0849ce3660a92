"""The product's logic as plain functions and small classes, called by views, API handlers and jobs."""

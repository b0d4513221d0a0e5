"""Assessments: self-assessments and reviews side by side, and states' responses to reviews."""

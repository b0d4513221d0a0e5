"""Comments on documents: threads one level deep, flags and the secretariat's moderation."""

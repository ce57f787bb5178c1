"""What a provider's source function builds itself from: the windowed sources' shared setup."""

"""``thumos14``: THUMOS'14 untrimmed videos with temporal action annotations and MMAction2's
TAG proposals (SSN); ``synthetic`` writes a small look-alike in the same layout."""

"""What every recognition builder shares: storage configs and features (``storage``), encoding
one sample (``encode``), parallel resumable shard writing (``shards``), the base builders
(``builder``)."""

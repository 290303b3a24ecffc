"""After deployment: the request log `ragline serve` writes, serving health over two windows,
drift statistics and reports, alert rules, retraining triggers and runs."""

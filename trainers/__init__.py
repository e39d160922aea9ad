"""Training recipes (MotionNFT): arrive with the training issue."""

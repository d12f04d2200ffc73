"""PerCE training: the config, token weights and losses, the paired collator, the Trainer."""

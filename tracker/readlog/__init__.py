"""Read logging: who read which case or document, when, from where and through what."""

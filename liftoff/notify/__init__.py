"""Notify: the channels (e-mail, Telegram) shared by the quality gate's alerts and the campaign."""

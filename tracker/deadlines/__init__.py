"""Time on a case (issue 12): referrals to other agencies, information requests, reminders."""

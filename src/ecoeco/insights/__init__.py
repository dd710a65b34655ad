"""Insights: each active user's weekly report (a resumable batch job on q.batch, Mondays 09:00 KST),
operator statistics (``ecoeco stats``) and community totals that single no one out."""

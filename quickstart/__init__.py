"""``./qk up``: build the default atlases (or the offline demo) and serve the dashboard on them.

``python -m quickstart`` is what ``./qk up`` runs after setting up Python and the frontend.
"""

"""``layerscope explore``: an interactive terminal explorer of an image (issue #17).

``model.py`` answers (layers, the merged tree at a layer, history, waste);
``app.py`` is the Textual UI over it. Textual loads only here, when the
command runs: no other command pays for it.
"""

"""Pure-PyTorch engines behind the pages: one module per concept plus shared helpers.

Nothing here imports streamlit: every module can be used from a script, a test or a notebook.
"""

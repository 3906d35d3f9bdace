"""Streamlit helpers shared by the pages: bilingual text, navigation, widgets and charts.

Pages import from here; nothing here does tensor math (that is `engine/`).
"""

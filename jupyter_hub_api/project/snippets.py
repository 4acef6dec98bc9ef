"""Code that the generated ``main.py`` files share, as text (it runs in the API's environment:
standard library only, any Python 3)."""

JSON_READY = '''\
def json_ready(value):
    """NumPy arrays and scalars, tensors, pandas series and data frames (and lists and dicts of
    them) as plain JSON values."""
    if hasattr(value, "to_dict") and hasattr(value, "columns"):  # a data frame
        return value.to_dict(orient="records")
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, dict):
        return {key: json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(item) for item in value]
    return value
'''

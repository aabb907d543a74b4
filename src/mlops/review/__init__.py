"""What a change is judged by: the comparison with main, the gate's verdict and the report."""

"""Tables, distributions and plots of the results."""

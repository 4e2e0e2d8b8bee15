print("caasctl")

print("caas-agent")

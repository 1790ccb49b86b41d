"""The browser interface for DCC and User staff: one module per screen, all thin over services/selectors."""

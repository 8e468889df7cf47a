"""Looking after the knowledge base itself: consistency checks of the store and its keyword index
(``doctor``) and figures about what it holds (``insights``). The top layer of kb: it may use any other
part, and no other part uses it."""

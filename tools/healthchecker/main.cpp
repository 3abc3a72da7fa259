// placeholder: implemented by the foundation issue
int main() { return 1; }

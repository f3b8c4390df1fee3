/* A tiny C file: identifiers count as words, case folded. */
#define MAX_LEN 42
int count_words(const char *s, int max_len) {
  int n = 0; /* 0x1F and 123abc: a word never starts with a digit */
  return n + max_len + Max_Len;
}

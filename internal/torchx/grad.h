#ifdef __cplusplus
extern "C" {
#endif
void captune_clear_grad(void *tensor);
#ifdef __cplusplus
}
#endif

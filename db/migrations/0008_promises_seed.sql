-- The account's scenario registry, seeded with LINE Taiwan's 18 notification-message use cases (docs/routing.md).
-- A business edits it through PUT/DELETE /api/v1/scenarios (what LINE approved for this account, extras case by case).
INSERT INTO "scenarios" ("scenario", "use_case_no", "title", "pnp_approved", "ignore_line", "default_urgency", "next_step_type") VALUES
  ('shipping', 1, '配送通知 Delivery notice', true, '若您已收到商品，請忽略此訊息', 'day', 'order'),
  ('purchase', 2, '完成購買通知 Purchase completed', true, '若您已確認此筆購買，請忽略此訊息', 'day', 'order'),
  ('product_ready', 3, '商品製作完成通知 Product ready', true, '若您已取得商品，請忽略此訊息', 'day', 'order'),
  ('reservation', 4, '預約通知 Reservation', true, '若您已確認預約，請忽略此訊息', 'day', NULL),
  ('reservation_reminder', 5, '預約提醒通知 Reservation reminder', true, '若您已確認預約，請忽略此訊息', 'day', NULL),
  ('registration', 6, '註冊完成通知 Registration completed', true, '若您已完成註冊，請忽略此訊息', 'day', NULL),
  ('card_issued', 7, '銀行核卡通知 Card issued', true, '若您已收到卡片，請忽略此訊息', 'day', NULL),
  ('account_opened', 8, '銀行開戶通知 Account opened', true, '若您已完成開戶，請忽略此訊息', 'day', NULL),
  ('points', 9, '得點通知 Points earned (not promotional points)', true, '若您已查看點數，請忽略此訊息', 'day', NULL),
  ('payment', 10, '付款完成通知 Payment completed', true, '若您已確認付款，請忽略此訊息', 'day', 'bill'),
  ('otp', 11, '傳送OTP驗證碼 OTP for membership', true, '若您已完成驗證，請忽略此訊息', 'minutes', NULL),
  ('billing', 12, '費用確認(帳單)通知 Bill', true, '若您已完成繳費，請忽略此訊息', 'day', 'bill'),
  ('rental_due', 13, '租借到期通知 Rental due', true, '若您已歸還，請忽略此訊息', 'day', NULL),
  ('contract_reminder', 14, '提醒通知(合約、申請期限) Contract reminder', true, '若您已完成辦理，請忽略此訊息', 'days', NULL),
  ('payment_reminder', 15, '提醒通知(付款、繳費) Payment reminder', true, '若您已完成繳費，請忽略此訊息', 'day', 'bill'),
  ('repair_done', 16, '維修完成通知 Repair completed', true, '若您已取回物品，請忽略此訊息', 'day', NULL),
  ('outage', 17, '故障通知 Outage', true, '若服務已恢復，請忽略此訊息', 'hour', NULL),
  ('contact_guide', 18, '諮詢窗口引導通知 Contact guide', true, '若您已完成諮詢，請忽略此訊息', 'day', NULL)
ON CONFLICT ("scenario") DO NOTHING;
